element.addEventListener('click', (event) => {
  const open = event.target.closest('[data-open]');
  if (open) {
    trigger('click', {kind: open.dataset.open, turn: Number(open.dataset.turn),
                      n: Number(open.dataset.cite)});
  }
});
window.footnotesShowSource = (turn, n) => {
  const panel = document.getElementById('fn-sources');
  if (!panel) return false;
  panel.querySelectorAll('section.fn-turn').forEach((section) => {
    section.hidden = section.dataset.turn !== String(turn);
  });
  panel.querySelectorAll('.fn-active').forEach((e) => e.classList.remove('fn-active', 'fn-flash'));
  const item = document.getElementById(`source-${turn}-${n}`);
  if (!item) return false;
  void item.offsetWidth;
  item.classList.add('fn-active', 'fn-flash');
  item.scrollIntoView({block: 'nearest'});
  item.focus({preventScroll: true});
  return true;
};
if (!window.footnotesMarkers) {
  window.footnotesMarkers = true;
  document.addEventListener('click', (event) => {
    const marker = event.target.closest && event.target.closest('a.fn-cite');
    if (!marker) return;
    event.preventDefault();
    event.stopPropagation();
    const link = /^#source-(\d+)-(\d+)$/.exec(marker.getAttribute('href') || '');
    if (link) window.footnotesShowSource(link[1], link[2]);
  }, true);
  // While an answer is being written the Ask button is disabled (the server's doing);
  // Enter then says so under the box and keeps the text, instead of doing nothing.
  document.addEventListener('keydown', (event) => {
    const box = event.target.closest && event.target.closest('#fn-question textarea');
    const ask = document.getElementById('fn-ask');
    if (!box || event.key !== 'Enter' || event.shiftKey || !ask || !ask.disabled) return;
    event.preventDefault();
    event.stopPropagation();
    let note = document.getElementById('fn-busy');
    if (!note) {
      note = document.createElement('div');
      note.id = 'fn-busy';
      note.setAttribute('role', 'status');
      document.getElementById('fn-question').append(note);
    }
    note.textContent = 'Still answering the last question: press Enter again when it is done. '
      + 'What you typed stays here.';
    note.hidden = false;
    const done = new MutationObserver(() => {
      if (!ask.disabled) { note.hidden = true; done.disconnect(); }
    });
    done.observe(ask, {attributes: true, attributeFilter: ['disabled']});
  }, true);
}
