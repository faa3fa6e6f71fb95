/* Every code's Chinese name, from the desk's one definition of each (GET /api/vocab): loaded once per page
   and kept for the page's lifetime. The pages keep no label table of their own. */

import { api } from "./api.js";

let loading = null;
let tables = null;

/** Loads the vocabulary (once; later calls share the first request). */
export function loadVocab() {
  if (!loading) {
    loading = api("GET", "/vocab").then((data) => { tables = data || {}; return tables; },
      (err) => { loading = null; throw err; });
  }
  return loading;
}

/** The table ``name`` (code → label), e.g. labels("ticket_states"); empty before loadVocab() resolved. */
export function labels(name) {
  return (tables && tables[name]) || {};
}

/** The label of ``code`` in table ``name``; the code itself when the table has none. */
export function label(name, code) {
  if (code === null || code === undefined || code === "") return "";
  const known = labels(name)[code];
  return known === undefined ? String(code) : known;
}

/** Whether table ``name`` knows ``code``. */
export function known(name, code) {
  return Object.prototype.hasOwnProperty.call(labels(name), code);
}
