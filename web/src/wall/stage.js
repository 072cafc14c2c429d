// The 1920×1080 design canvas, scaled to fit the window with its aspect kept
// (letterboxed). Charts draw at devicePixelRatio × scale, so a 4K wall gets a
// 4K canvas, not an upscaled 1080p one.
export const WIDTH = 1920;
export const HEIGHT = 1080;

export class Stage {
  constructor(el, onDensity) {
    this.el = el;
    this.onDensity = onDensity;
    this.scale = 1;
    this.density = 0;
    this.timer = 0;
    this.fit();
    window.addEventListener('resize', () => {
      this.fit();
      // Charts are re-created only when the density settles at a new value.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.checkDensity(), 300);
    });
  }

  fit() {
    const w = window.innerWidth;
    const h = window.innerHeight;
    this.scale = Math.min(w / WIDTH, h / HEIGHT);
    const x = (w - WIDTH * this.scale) / 2;
    const y = (h - HEIGHT * this.scale) / 2;
    this.el.style.transform = `translate(${x}px, ${y}px) scale(${this.scale})`;
  }

  /** Device pixels per design pixel (at least 1, so a small preview stays crisp enough). */
  pixelDensity() {
    return Math.max(1, Math.round((window.devicePixelRatio || 1) * this.scale * 100) / 100);
  }

  checkDensity() {
    const d = this.pixelDensity();
    if (d === this.density) return;
    this.density = d;
    this.onDensity(d);
  }
}
