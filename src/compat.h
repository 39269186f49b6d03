/*
 * compat.h — what differs between the PostgreSQL majors recsys builds
 * against (15, 16, 17, 18), in one place.
 *
 * Every PG_VERSION_NUM test of recsys is here; the rest of the code calls
 * the names below.  16 sits where 15 and 17 agree (its source is not built
 * here: see README, "Supported PostgreSQL versions").  Each entry names the
 * major that changed the API.
 */
#ifndef RECSYS_COMPAT_H
#define RECSYS_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "recsys needs PostgreSQL 15 or later"
#endif

/*
 * Only macros: each names what its caller's own #includes declare, so this
 * header includes nothing but postgres.h and every file may include it.
 */

/*
 * 16: ExceptionalCondition() (what a failed assertion calls) lost its
 * errorType argument.
 */
#if PG_VERSION_NUM >= 160000
#define rs_exceptional_condition(cond, file, line) \
	ExceptionalCondition((cond), (file), (line))
#else
#define rs_exceptional_condition(cond, file, line) \
	ExceptionalCondition((cond), "RsAssert", (file), (line))
#endif

/*
 * 16: a relation's physical file is a RelFileLocator (rd_locator), was a
 * RelFileNode (rd_node).  RsRelFile names it; RS_REL_FILE(rel) is the
 * relation's current one.
 */
#if PG_VERSION_NUM >= 160000
#define RsRelFile			RelFileLocator
#define RS_REL_FILE(rel)	((rel)->rd_locator)
#else
#define RsRelFile			RelFileNode
#define RS_REL_FILE(rel)	((rel)->rd_node)
#endif

/*
 * 16: the permissions of a plan's relations moved from its range table to
 * PlannedStmt.permInfos (ExecCheckPermissions, was ExecCheckRTPerms).
 */
#if PG_VERSION_NUM >= 160000
#define rs_plan_permissions_ok(ps) \
	ExecCheckPermissions((ps)->rtable, (ps)->permInfos, false)
#else
#define rs_plan_permissions_ok(ps)	ExecCheckRTPerms((ps)->rtable, false)
#endif

/*
 * Before 16, RESET of transaction_read_only (also set_config(name, NULL,
 * ...) and SET ... TO DEFAULT) is not refused: it sets the reset value,
 * read-write, without the check that refuses turning read-only mode off.
 * RS_READ_ONLY (runtime.c) makes the reset value read-only while a read
 * runs.  16 refuses the RESET.
 */
#if PG_VERSION_NUM < 160000
#define RS_GUARD_READ_ONLY_RESET 1
#else
#define RS_GUARD_READ_ONLY_RESET 0
#endif

/*
 * 16: stringToQualifiedNameList() takes a soft-error context, and
 * parseTypeString()'s last argument is one instead of missing_ok (NULL:
 * raise errors as before).
 */
#if PG_VERSION_NUM >= 160000
#define rs_qualified_name_list(s)	stringToQualifiedNameList((s), NULL)
#define rs_parse_type_string(s, typid, typmod) \
	((void) parseTypeString((s), (typid), (typmod), NULL))
#else
#define rs_qualified_name_list(s)	stringToQualifiedNameList(s)
#define rs_parse_type_string(s, typid, typmod) \
	parseTypeString((s), (typid), (typmod), false)
#endif

/*
 * 18: vacuum_delay_point() says whether it is called from ANALYZE;
 * RelationGetPrimaryKeyIndex() whether a deferrable key will do (recsys's
 * catalog keys are never deferrable); base64 takes bytes as uint8.
 */
#if PG_VERSION_NUM >= 180000
#define rs_vacuum_delay_point()				vacuum_delay_point(false)
#define rs_primary_key_index(rel)			RelationGetPrimaryKeyIndex((rel), false)
#define RsBase64Byte						uint8
#else
#define rs_vacuum_delay_point()				vacuum_delay_point()
#define rs_primary_key_index(rel)			RelationGetPrimaryKeyIndex(rel)
#define RsBase64Byte						char
#endif

#endif							/* RECSYS_COMPAT_H */
