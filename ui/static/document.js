const reveal = () => {
  const mark = element.querySelector('.fn-doc-text mark');
  if (mark) mark.scrollIntoView({block: 'center'});
};
watch('value', reveal);
