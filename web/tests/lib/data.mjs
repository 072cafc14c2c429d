// Synthetic events (person ids p-XXXXXXXX only) and the figures they must
// produce, worked out here independently of the server.
import { COLOURS as COLOUR_LIST, codes } from '../../src/shared/lists.js';

export const CODES = [
  '110101', '110102', '110105', '110106', '110107', '110108', '110109', '110111',
  '110112', '110113', '110114', '110115', '110116', '110117', '110118', '110119',
];
// The five colours' codes, from the pages' own list.
export const COLOURS = codes(COLOUR_LIST);

/** RFC 3339 in Beijing time (+08:00), `msAgo` before now. */
export function beijingTs(msAgo = 0) {
  const ms = Date.now() - msAgo;
  return new Date(ms + 8 * 3600e3).toISOString().replace('Z', '+08:00');
}

export const personId = (n) => `p-${String(n).padStart(8, '0')}`;

/**
 * The first batch. District i has 5 + 3·i people who scan (one of them twice);
 * person 1 also scans in a second district (one person, counted in both
 * districts but once in the city); every other person in a district assesses,
 * colours in turn; person 2 is re-assessed later with another colour (only the
 * latest counts).
 */
export function firstBatch(prefix) {
  const events = [];
  let n = 0;
  let id = 0;
  const ev = (e, msAgo) => events.push({ id: `${prefix}-${++id}`, ts: beijingTs(msAgo), ...e });
  const people = {};
  const colours = Object.fromEntries(COLOURS.map((c) => [c, 0]));
  const persons = new Set();
  let assessedTurn = 0;
  CODES.forEach((code, i) => {
    const count = 5 + 3 * i;
    people[code] = count;
    for (let k = 0; k < count; k += 1) {
      n += 1;
      const person = personId(n);
      persons.add(person);
      ev({ kind: 'scan', district: code, person, channel: 'test' }, 20_000);
      if (k === 0) ev({ kind: 'scan', district: code, person, channel: 'test' }, 19_000);
      if (k % 2 === 0) {
        const colour = COLOURS[assessedTurn % COLOURS.length];
        assessedTurn += 1;
        ev({ kind: 'assess', district: code, person, colour }, 18_000);
        colours[colour] += 1;
      }
    }
  });
  // Person 1 (of 东城区) scans in 西城区 too.
  ev({ kind: 'scan', district: CODES[1], person: personId(1), channel: 'test' }, 17_000);
  people[CODES[1]] += 1;
  // Person 1 was assessed first (k = 0) as green; a later assessment says blue.
  ev({ kind: 'assess', district: CODES[0], person: personId(1), colour: 'blue' }, 16_000);
  colours.green -= 1;
  colours.blue += 1;
  return { events, expected: { people: persons.size, districts: people, colours }, lastPerson: n };
}

/** `count` new people scanning, spread over the districts, numbered from `from`. */
export function moreScans(prefix, from, count) {
  const events = [];
  for (let k = 0; k < count; k += 1) {
    events.push({ id: `${prefix}-${k}`, ts: beijingTs(1000), kind: 'scan', district: CODES[(from + k) % CODES.length], person: personId(from + k), channel: 'test' });
  }
  return events;
}

/**
 * Team events (enroll, service) for new people numbered from `from` (they do
 * not scan, so the headline does not move). With k = 5: 丰台区's ft-big has 6
 * managed, 6 served, 6 services (shown); ft-small 2 managed, 1 served, 1
 * service (all suppressed outside the console); 东城区's dc-five 5 managed,
 * none served (0 is shown: only 1 to k−1 is suppressed).
 */
export function teamBatch(prefix, from) {
  const events = [];
  let n = from;
  let id = 0;
  const ev = (e) => events.push({ id: `${prefix}-${++id}`, ts: beijingTs(15_000), ...e });
  const team = (district, name, managed, served) => {
    for (let k = 0; k < managed; k += 1) {
      const person = personId(n++);
      ev({ kind: 'enroll', district, person, team: name });
      if (k < served) ev({ kind: 'service', district, person, team: name, category: 'health_management' });
    }
  };
  team('110106', 'ft-big', 6, 6);
  team('110106', 'ft-small', 2, 1);
  team('110101', 'dc-five', 5, 0);
  return {
    events,
    lastPerson: n - 1,
    staff: {
      110106: { 'ft-big': { managed: 6, served: 6, services: 6 }, 'ft-small': { managed: 2, served: 1, services: 1 } },
      110101: { 'dc-five': { managed: 5, served: 0, services: 0 } },
    },
    suppressed: {
      110106: { 'ft-big': { managed: 6, served: 6, services: 6 }, 'ft-small': { managed: null, served: null, services: null } },
      110101: { 'dc-five': { managed: 5, served: 0, services: 0 } },
    },
  };
}

/** Today's date in Beijing (YYYY-MM-DD): a program that starts today. */
export const beijingToday = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);

/**
 * Scans by channel, outcomes for the nine rates and a few enrolments, for
 * new people numbered from `from`, and the figures they must produce.
 *
 * Channels (city): wechat 6, none 5, poster 4, hall 3, radio 2, sms 1 (21
 * scans, 21 people, spread over four districts).
 * awareness: 丰台 110106 nine persons, 7 true, then the first of them
 * observed again, false (only the latest counts): 6 of 9; 朝阳 110105 1 of 4;
 * 东城 110101 4 of 4. City 11 of 17.
 * participation: 东城 three `participation` true and two `compliance`, one
 * true (依从率 is the same slot): 4 of 5.
 * satisfaction: nobody (待报). management: 3 enrolled in 丰台.
 */
export function figuresBatch(prefix, from) {
  const events = [];
  let n = from;
  let id = 0;
  const ev = (e, msAgo = 20_000) => events.push({ id: `${prefix}-${++id}`, ts: beijingTs(msAgo), ...e });
  const channels = { wechat: 6, '(none)': 5, poster: 4, hall: 3, radio: 2, sms: 1 };
  const spread = ['110106', '110105', '110101', '110108'];
  let k = 0;
  for (const [channel, count] of Object.entries(channels)) {
    for (let i = 0; i < count; i += 1) {
      const scan = { kind: 'scan', district: spread[k % spread.length], person: personId(n++) };
      if (channel !== '(none)') scan.channel = channel;
      ev(scan);
      k += 1;
    }
  }
  const observe = (district, rate, values, msAgo) => {
    const persons = values.map(() => personId(n++));
    values.forEach((value, i) => ev({ kind: 'outcome', district, person: persons[i], rate, value }, msAgo));
    return persons;
  };
  const fengtai = observe('110106', 'awareness', [true, true, true, true, true, true, true, false, false], 30_000);
  ev({ kind: 'outcome', district: '110106', person: fengtai[0], rate: 'awareness', value: false }, 10_000);
  observe('110105', 'awareness', [true, false, false, false], 30_000);
  observe('110101', 'awareness', [true, true, true, true], 30_000);
  observe('110101', 'participation', [true, true, true], 30_000);
  observe('110101', 'compliance', [true, false], 30_000);
  for (let i = 0; i < 3; i += 1) ev({ kind: 'enroll', district: '110106', person: personId(n++), team: 'ft-figures' });
  return {
    events,
    lastPerson: n - 1,
    expected: {
      scans: 21,
      channels,
      rates: {
        awareness: { trues: 11, n: 17, districts: { 110106: [6, 9], 110105: [1, 4], 110101: [4, 4] } },
        participation: { trues: 4, n: 5, districts: { 110101: [4, 5] } },
      },
      managed: 3,
    },
  };
}
