// The one clock every UI test runs on. setup.ts fixes `Date` at NOW before
// each test (it then advances with real time, so countdowns and `waitFor`
// behave), so a fixture time written as `at(…)` keeps its meaning whatever
// the calendar says: an approval that expires "in a day" stays pending in
// every year. `make ui-test` runs the suite a second time with the process
// clock two years ahead (faketime) to keep it that way.

/** The instant the tests run at. */
export const NOW = Date.parse("2026-11-21T10:00:00.000Z");

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** NOW moved by `offsetMs` (negative: in the past), as the ISO string the bindings carry. */
export function at(offsetMs = 0): string {
  return new Date(NOW + offsetMs).toISOString();
}
