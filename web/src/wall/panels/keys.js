// Keys on the wall PC: Ctrl+Shift+L launches the wall (POST /api/v1/wall with
// the page's ?token=, so every wall in the hall follows, and a reload keeps
// it). Ctrl+Shift+B asks for the cover, which only staff may put up: the
// server refuses a wall token, and the toast says to use the console.
export function bindLaunchKeys({ token, t, toast }) {
  // Success shows nothing: the wall itself changing is the answer, and the
  // hall should not see an operator's message at the ceremony.
  async function post(body) {
    if (!token) {
      toast(t.needToken);
      return;
    }
    try {
      const res = await fetch('/api/v1/wall', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      if (res.status === 403) {
        toast(t.coverIsStaff);
      } else if (!res.ok) {
        let why = `HTTP ${res.status}`;
        try {
          const j = await res.json();
          if (j && typeof j.error === 'string') why = j.error;
        } catch { /* not JSON: keep the status */ }
        toast(t.launchFailed(why));
      }
    } catch (e) {
      toast(t.launchFailed(String(e?.message || e)));
    }
  }

  window.addEventListener('keydown', (e) => {
    if (!e.ctrlKey || !e.shiftKey || e.altKey || e.metaKey) return;
    const key = e.key.toLowerCase();
    if (key === 'l') {
      e.preventDefault();
      post({ phase: 'live' });
    } else if (key === 'b') {
      e.preventDefault();
      post({ phase: 'before', countdown_to: null });
    }
  });
}
