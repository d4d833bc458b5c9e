// Markdown for user text (descriptions, notes): rendered by marked, with raw HTML shown
// as text and only safe link targets kept, so user text never becomes markup or script.
// Code spans and fenced blocks are escaped once, by marked (no double escaping).
import { Marked } from 'marked';

const escapeHtml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** http(s), mailto, in-page and relative URLs; never javascript:, data:, vbscript:… */
export function safeUrl(href) {
  const h = String(href || '').trim();
  // Control characters and whitespace inside a scheme are how filters are dodged.
  const compact = h.replace(/[\u0000-\u0020]/g, '').toLowerCase();
  const m = /^([a-z][a-z0-9+.-]*):/.exec(compact);
  return !m || ['http', 'https', 'mailto'].includes(m[1]);
}

const md = new Marked({
  async: false,
  gfm: true,
  breaks: false,
  walkTokens(token) {
    if ((token.type === 'link' || token.type === 'image') && !safeUrl(token.href)) token.href = '#';
  },
  renderer: {
    html(token) {
      return escapeHtml(token.text);
    },
  },
});

export function safeMarkdown(text) {
  return md.parse(String(text || ''));
}
