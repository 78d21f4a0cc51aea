import { useState } from 'preact/hooks';

/** A value to copy: a button that copies it, and the text selected for
 *  copying by hand where the clipboard is not available. */
export function CopyButton({ value, label }) {
  const [done, setDone] = useState(false);
  const copy = () =>
    navigator.clipboard.writeText(value).then(() => setDone(true)).catch(() => setDone(false));
  return <button type="button" onClick={copy} aria-label={label}>{done ? 'Copied' : 'Copy'}</button>;
}

/** A secret shown once, right after it was made: hookgate never shows it
 *  again, and the page drops it when the reader closes the box. */
export function SecretOnce({ title, secret, webhookUrl, onClose }) {
  return (
    <div class="callout secret" role="dialog" aria-label={title}>
      <h2>{title}</h2>
      <p>This is the only time the secret is shown: copy it now into the provider's webhook settings.</p>
      {secret && (
        <p><label>Secret <input readonly class="mono wide" value={secret} onFocus={(e) => e.target.select()} data-secret /></label>{' '}
          <CopyButton value={secret} label="Copy the secret" /></p>
      )}
      {webhookUrl && (
        <p><label>Webhook URL <input readonly class="mono wide" value={webhookUrl} onFocus={(e) => e.target.select()} data-webhook-url /></label>{' '}
          <CopyButton value={webhookUrl} label="Copy the webhook URL" /></p>
      )}
      <button type="button" onClick={onClose}>I have copied it</button>
    </div>
  );
}
