// A service that talks to other services with `ctx.send`, for the browser tests: `{ op: 'forward',
// to, message, options }` answers the receiver's reply; `{ op: 'burst', to, n }` sends 0..n without
// awaiting and answers the replies in order; `{ op: 'catch', to, message, options }` answers the
// error a send rejected with as `{ name, message }`; `{ op: 'crash-then', to, message }` makes the
// receiver crash while `message` is handled, and answers as `catch`; `{ op: 'uncloneable', to }`
// sends a function, and answers as `catch`.
export async function onMessage(message, ctx) {
  switch (message.op) {
    case 'forward':
      return ctx.send(message.to, message.message, message.options);
    case 'burst': {
      const replies = [];
      for (let i = 0; i < message.n; i++) replies.push(ctx.send(message.to, i));
      return Promise.all(replies);
    }
    case 'catch':
      try {
        return { resolved: await ctx.send(message.to, message.message, message.options) };
      } catch (e) {
        return { name: e.name, message: e.message };
      }
    case 'crash-then':
      // The receiver crashes (its next task) while it handles `message`, whose reply is awaited.
      ctx.send(message.to, { op: 'crash' });
      try {
        return { resolved: await ctx.send(message.to, message.message) };
      } catch (e) {
        return { name: e.name, message: e.message };
      }
    case 'uncloneable':
      try {
        return { resolved: await ctx.send(message.to, () => 'a function is not cloneable') };
      } catch (e) {
        return { name: e.name, message: e.message };
      }
    case 'keys':
      return Object.keys(ctx);
    default:
      throw new TypeError(`unknown op ${message.op}`);
  }
}

/** This module's URL, for the tests to register it. */
export function relayServiceUrl() {
  return import.meta.url;
}
