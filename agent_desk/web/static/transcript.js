/* The live transcript of one call (通话转写): speaker-labelled turns in reading order, the queue's description
   marked, a turn that was not transcribed shown as a note saying why. Turns come from
   GET /api/v1/calls/{id}/transcript (what was said before the page had the call) and one by one over /ws/desk
   ({type: "turn"}); each (speaker, seq) is shown once. Every label comes from the vocabulary. */

import { api } from "./api.js";
import { clear, el, show } from "./dom.js";
import { label } from "./vocab.js";

/**
 * A transcript panel on ``list`` (an <ol>).
 *   empty     a node shown while there is no turn yet
 *   busy      a node shown once a turn was shed (transcription skipped under load)
 * Returns { open(callId), add(turn), callId }.
 */
export function transcriptPanel(list, { empty, busy } = {}) {
  let callId = null;
  let turns = new Map();   // "speaker:seq" → turn

  function render() {
    const ordered = Array.from(turns.values()).sort((a, b) => a.start - b.start
      || (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : 0) || a.seq - b.seq);
    clear(list);
    for (const turn of ordered) list.append(item(turn));
    if (empty) show(empty, ordered.length === 0);
    if (busy) show(busy, ordered.some((t) => t.status === "shed"));
    list.scrollTop = list.scrollHeight;
  }

  function item(turn) {
    const said = turn.status === "ok";
    return el("li", { class: `turn ${turn.speaker}`, "data-speaker": turn.speaker, "data-seq": String(turn.seq),
      "data-status": turn.status, "data-phase": turn.phase },
    el("span", { class: "speaker" }, label("speakers", turn.speaker)),
    turn.phase === "waiting" ? el("span", { class: "badge phase" }, label("turn_phases", turn.phase)) : null,
    said ? el("span", { class: "said" }, turn.text) : el("span", { class: "note" }, label("turn_statuses", turn.status)));
  }

  function add(turn) {
    if (!turn || turn.call_id && turn.call_id !== callId) return;
    turns.set(`${turn.speaker}:${turn.seq}`, turn);
    render();
  }

  /** Shows ``id``'s transcript: what was said so far, then each turn as it arrives. */
  async function open(id) {
    if (id !== callId) {
      callId = id;
      turns = new Map();
      render();
    }
    if (!id) return;
    const reply = await api("GET", `/calls/${encodeURIComponent(id)}/transcript`);
    if (callId !== id) return;   // another call came meanwhile
    for (const turn of reply.turns) if (!turns.has(`${turn.speaker}:${turn.seq}`)) turns.set(`${turn.speaker}:${turn.seq}`, turn);
    render();
  }

  return { open, add, get callId() { return callId; } };
}
