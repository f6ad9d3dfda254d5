// The worker floor: receive a message, post it back (as benches/ipc/raw-worker.js does for echo).
onmessage = ({ data }) => postMessage(data);
