// Loads the dashboard and, if that fails (a damaged installation), says so on the page instead
// of leaving it blank. A missing chart library does not get here: charts.js catches that, and
// only the charts say so. A separate module because the page's security policy allows no
// inline script.

import('./main.js').catch((error) => {
  const box = document.getElementById('boot-error');
  box.querySelector('code.detail').textContent = String(error?.message || error);
  box.hidden = false;
});
