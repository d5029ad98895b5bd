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
}
