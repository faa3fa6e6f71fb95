/* Which optional desk endpoints the pages use: every desk has them; one switch so a trimmed deployment
   can turn one off. */

const FEATURES = Object.freeze({ units: true, dispatch_suggest: true, knowledge: true });

export function features() {
  return Promise.resolve(FEATURES);
}
