// The document view: a panel beside the chat. It opens when the server sends a document,
// scrolls its own text (never the page) to the quote, and closes on its button or Esc.
const reveal = () => {
  const text = element.querySelector('.fn-doc-text');
  const mark = text && text.querySelector('mark');
  if (mark) text.scrollTop = mark.offsetTop - (text.clientHeight - mark.offsetHeight) / 2;
};
const close = () => {
  const dialog = element.querySelector('.fn-dialog');
  if (!dialog) return;
  dialog.hidden = true;
  trigger('clear');
  const box = document.querySelector('#fn-question textarea');
  if (box) box.focus({preventScroll: true});
};
watch('value', reveal);
element.addEventListener('click', (event) => {
  if (event.target.closest('[data-close]')) close();
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && element.querySelector('.fn-dialog:not([hidden])')) close();
});
