// The wall's layout inside the leaders' view (landscape): index.html's
// markup, parsed from the bundle (our own file, not data) and bound to the
// view's one live copy. Loaded on demand, so a phone held upright never
// downloads the charts.
import wallPage from '../../index.html?raw';
import { createWall, fontsReady } from '../wall/wall.js';
import { strings } from '../shared/i18n.js';

export async function mountWall(slot, live) {
  const doc = new DOMParser().parseFromString(wallPage, 'text/html');
  for (const id of ['letterbox', 'sync']) {
    const el = doc.getElementById(id);
    if (el) slot.append(document.adoptNode(el));
  }
  // A leader's link is read-only: no launch keys, no operator toast.
  document.getElementById('toast')?.remove();
  await fontsReady();
  const wall = createWall({ lang: 'zh', t: strings('zh'), followPhase: false });
  wall.attach(live);
  return wall;
}
