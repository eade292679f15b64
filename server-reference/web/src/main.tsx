// Entry point: restore the session from the refresh cookie, then render.
import { render } from 'preact';
import { App } from './app';
import { restore } from './session';
import './styles.css';

const root = document.getElementById('app');
if (root) {
  render(<App />, root);
  void restore();
}
