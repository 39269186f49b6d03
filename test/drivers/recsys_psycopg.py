"""recsys called from psycopg (3, server-side binding) or psycopg2
(client-side interpolation) with plain parameters.  psycopg 3 sends a str
parameter untyped and lets the server infer its type; psycopg2 writes it as
an untyped literal.  Connects with PGHOST, PGPORT, PGUSER and PGDATABASE.
Prints one line per call, in the format test/t/070_drivers.pl compares with
psql's typed calls.

    python3 recsys_psycopg.py psycopg|psycopg2 MODEL USER ITEM ITEM2
"""
import sys

driver, model, user, item, item2 = sys.argv[1:6]
if driver == "psycopg":
    import psycopg
    conn = psycopg.connect("")
else:
    import psycopg2
    conn = psycopg2.connect("")


def rows(sql, params):
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur.fetchall()


def fmt(name, result):
    return name + " " + ",".join("%s:%.9f" % (r[0], r[1]) for r in result)


print(fmt("recommend", rows("SELECT item, score FROM recsys.recommend(%s, %s, %s)", (model, user, 5))))
print(fmt("recommend_for_items",
          rows("SELECT item, score FROM recsys.recommend_for_items(%s, %s, %s)", (model, [item, item2], 5))))
print("predict %.9f" % rows("SELECT recsys.predict(%s, %s, %s)", (model, user, item))[0][0])
print(fmt("similar_items", rows("SELECT item, similarity FROM recsys.similar_items(%s, %s, %s)", (model, item, 5))))
if driver == "psycopg":
    # server-side binding of a prepared statement
    cur = conn.cursor()
    cur.execute("SELECT item, score FROM recsys.recommend(%s, %s, %s)", (model, user, 5), prepare=True)
    print(fmt("recommend_prepared", cur.fetchall()))
else:
    print(fmt("recommend_prepared", rows("SELECT item, score FROM recsys.recommend(%s, %s, %s)", (model, user, 5))))
conn.close()
