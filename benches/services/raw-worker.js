// The worker floor: receive a message, post it back (as benches/ipc/raw-worker.js).
onmessage = ({ data }) => postMessage(data);
