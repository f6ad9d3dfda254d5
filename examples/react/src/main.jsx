import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { WorkerBridgeProvider } from './worker-bridge.jsx';
import App from './App.jsx';

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <WorkerBridgeProvider>
      <App />
    </WorkerBridgeProvider>
  </StrictMode>,
);
