// The floor: the least any worker library can do per call — receive a message, post it back.
onmessage = ({ data }) => postMessage(data);
