// An inline handler for the browser tests (main placement): a plain object of hooks, with `this`
// and closures over the page's own values — what a module cannot have. Each hook records what it
// was called with in `calls`, which the test reads directly.

/**
 * A fresh counter handler; `calls` collects `[hook, ctx.config]` for every hook called.
 * @param {unknown[]} calls
 */
export function inlineCounter(calls) {
  return {
    step: 1,
    onStart(ctx) {
      calls.push(['onStart', ctx.config]);
      ctx.count = ctx.config?.from ?? 0;
    },
    async onMessage(message, ctx) {
      calls.push(['onMessage', ctx.config]);
      if (message && message.op === 'throw') throw new RangeError(`asked to throw at ${ctx.count}`);
      ctx.count += this.step;
      return { count: ctx.count, echo: message };
    },
    onStop(ctx) {
      calls.push(['onStop', ctx.config]);
    },
    health(ctx) {
      calls.push(['health', ctx?.config]);
      return { healthy: true, detail: `count ${ctx ? ctx.count : 'none'}` };
    },
  };
}
