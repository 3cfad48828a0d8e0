// The FLASH alarm sound, made with WebAudio (no audio file): a two-tone warble,
// 0.45 s per tone, repeating until stopped. Browsers start audio only after a user
// gesture; ``unlock()`` is called on sign-in and on any key or click.

let ctx = null;
let timer = null;
let running = false;

function context() {
  if (!ctx) {
    const Ctor = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctor) return null;
    ctx = new Ctor();
  }
  return ctx;
}

/** Resume audio after a user gesture (autoplay policy). */
export function unlock() {
  const audio = context();
  if (audio && audio.state === "suspended") audio.resume().catch(() => {});
}

/** Can the alarm be heard right now? */
export function audible() {
  return Boolean(ctx && ctx.state === "running" && running);
}

function tone(audio, frequency, start, length) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = "square";
  osc.frequency.setValueAtTime(frequency, start);
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
  gain.gain.setValueAtTime(0.18, start + length - 0.04);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(start);
  osc.stop(start + length);
}

function cycle() {
  const audio = context();
  if (!audio || !running) return;
  const now = audio.currentTime + 0.02;
  tone(audio, 960, now, 0.45);
  tone(audio, 720, now + 0.45, 0.45);
}

export function start() {
  if (running) return;
  running = true;
  unlock();
  cycle();
  timer = setInterval(cycle, 900);
}

export function stop() {
  running = false;
  clearInterval(timer);
  timer = null;
}

export function isRunning() {
  return running;
}
