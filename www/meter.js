// The demo's frame meter: a dot moved every animation frame, the longest gap between frames in
// the last second, and the longest gap while each job runs (`trackFrames`). A job that blocks
// the page shows here as the frames it cost.

const meter = { last: 0, windowStart: 0, windowMax: 0, trackers: new Set() };

function frame(now) {
  if (meter.last) {
    const gap = now - meter.last;
    meter.windowMax = Math.max(meter.windowMax, gap);
    for (const t of meter.trackers) t.max = Math.max(t.max, gap);
  }
  meter.last = now;
  document.getElementById('meter-dot').style.transform = `translateX(${((now / 8) % 180).toFixed(1)}px)`;
  if (now - meter.windowStart >= 1000) {
    document.getElementById('meter-text').textContent = `longest frame in the last second: ${meter.windowMax.toFixed(0)} ms`;
    meter.windowStart = now;
    meter.windowMax = 0;
  }
  requestAnimationFrame(frame);
}

/** Starts the meter's animation (once). */
export function startMeter() {
  requestAnimationFrame(frame);
}

/** Starts watching frames; the returned function stops and gives the longest gap in ms (the
 * time since the last frame counts too: a page blocked until the end had no frame to show it). */
export function trackFrames() {
  const tracker = { max: 0 };
  meter.trackers.add(tracker);
  return () => {
    meter.trackers.delete(tracker);
    return Math.max(tracker.max, meter.last ? performance.now() - meter.last : 0);
  };
}
