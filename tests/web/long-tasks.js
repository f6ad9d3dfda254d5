// Long tasks on the page while a browser test runs: PerformanceObserver('longtask') reports every
// task over 50 ms. Imported by tests/web_handlers.rs.

/** Starts watching; `null` where the browser does not report long tasks. */
export function watchLongTasks() {
  if (!PerformanceObserver.supportedEntryTypes?.includes('longtask')) return null;
  const durations = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) durations.push(entry.duration);
  });
  observer.observe({ type: 'longtask' });
  return {
    /** Stops watching; the durations (ms) of the long tasks seen, longest first. */
    stop() {
      for (const entry of observer.takeRecords()) durations.push(entry.duration);
      observer.disconnect();
      return durations.sort((a, b) => b - a);
    },
  };
}
