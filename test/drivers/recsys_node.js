// recsys called from node-postgres (the `pg` module) with plain
// parameters: node-postgres sends every parameter untyped and lets the
// server infer its type.  Connects with PGHOST, PGPORT, PGUSER and
// PGDATABASE; model and keys come as arguments.  Prints one line per call,
// in the format test/t/070_drivers.pl compares with psql's typed calls.
//
//   node recsys_node.js MODEL USER ITEM ITEM2
'use strict';
const { Client } = require('pg');

const [model, user, item, item2] = process.argv.slice(2);

function fmt(name, rows, key) {
  return name + ' ' + rows.map(r => r[key] + ':' + Number(r.score !== undefined ? r.score : r.similarity).toFixed(9)).join(',');
}

(async () => {
  const c = new Client();
  await c.connect();
  let r = await c.query('SELECT * FROM recsys.recommend($1, $2, $3)', [model, user, 5]);
  console.log(fmt('recommend', r.rows, 'item'));
  r = await c.query('SELECT * FROM recsys.recommend_for_items($1, $2, $3)', [model, [item, item2], 5]);
  console.log(fmt('recommend_for_items', r.rows, 'item'));
  r = await c.query('SELECT recsys.predict($1, $2, $3) AS score', [model, user, item]);
  console.log('predict ' + Number(r.rows[0].score).toFixed(9));
  r = await c.query('SELECT * FROM recsys.similar_items($1, $2, $3)', [model, item, 5]);
  console.log(fmt('similar_items', r.rows, 'item'));
  // a prepared statement, as node-postgres makes for a named query
  r = await c.query({ name: 'rec', text: 'SELECT * FROM recsys.recommend($1, $2, $3)', values: [model, user, 5] });
  console.log(fmt('recommend_prepared', r.rows, 'item'));
  await c.end();
})().catch(e => { console.error('error: ' + e.message); process.exit(1); });
