import { render } from 'preact';
import { App } from './app.tsx';
import { loadConfig } from './session.ts';
import './styles.css';

const root = document.getElementById('app')!;
render(<App config={await loadConfig()} />, root);
