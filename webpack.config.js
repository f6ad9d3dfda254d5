// The demo page (www/) bundled with webpack 5, the way an app would bundle the package.
// `npm start` serves it with the COOP/COEP headers that make the page cross-origin isolated
// (SharedArrayBuffer available); `npm run build:demo` writes a production build to dist/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';

const root = path.dirname(fileURLToPath(import.meta.url));

export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default {
  entry: './www/index.js',
  output: {
    path: path.resolve(root, 'dist'),
    filename: '[name].[contenthash].js',
    clean: true,
  },
  plugins: [new HtmlWebpackPlugin({ template: './www/index.html' })],
  performance: { hints: false },
  devServer: {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 8080),
    headers: isolationHeaders,
    static: false,
    client: { overlay: { warnings: false } },
  },
};
