// The wall screen's page (index.html): the wall (src/wall.js) fed by one
// websocket (src/live.js), and the launch keys of the wall PC.
import { Live } from '../shared/live.js';
import { socketUrl } from '../shared/connection.js';
import { createWall, fontsReady } from './wall.js';
import { pickLang, strings } from '../shared/i18n.js';
import { bindLaunchKeys } from './panels/keys.js';

const params = new URLSearchParams(location.search);
const lang = pickLang(location.search);
const t = strings(lang);

document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
document.body.classList.add(`lang-${lang}`);
document.title = t.title;

// ---- the toast (key feedback) ---------------------------------------------------
const toastEl = document.getElementById('toast');
let toastTimer = 0;
function toast(text) {
  toastEl.textContent = text;
  toastEl.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toastEl.hidden = true; }, 4000);
}

async function start() {
  const wall = createWall({ lang, t });
  // The charts draw text on canvas: let the shipped font load first.
  await fontsReady();
  const live = new Live({ url: socketUrl(location, params.get('token')), onState: wall.onState, onStatus: wall.onStatus });
  wall.attach(live);
  live.start();
  bindLaunchKeys({ token: params.get('token'), t, toast });
}

start();
