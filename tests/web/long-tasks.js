// Long tasks on the page while a browser test runs: PerformanceObserver('longtask') reports every
// task over 50 ms. Imported by tests/web_handlers.rs.

/** Whether this browser reports long tasks. */
export function longTasksReported() {
  return PerformanceObserver.supportedEntryTypes?.includes('longtask') ?? false;
}

/** Starts watching; `stop()` ends it and returns the durations (ms) seen, longest first. */
export function watchLongTasks() {
  const durations = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) durations.push(entry.duration);
  });
  observer.observe({ type: 'longtask' });
  return {
    stop() {
      for (const entry of observer.takeRecords()) durations.push(entry.duration);
      observer.disconnect();
      return durations.sort((a, b) => b - a);
    },
  };
}
