// Loads the dashboard and, if that fails (most often: the vendor files were never built), says
// so on the page instead of leaving it blank. A separate module because the page's security
// policy allows no inline script.

import('./main.js').catch((error) => {
  const box = document.getElementById('boot-error');
  box.querySelector('code.detail').textContent = String(error?.message || error);
  box.hidden = false;
});
