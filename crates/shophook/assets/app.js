// Progressive enhancement: add and remove condition and header rows. Without
// JavaScript the form still shows the stored rows plus empty ones to fill in.
document.addEventListener("click", (e) => {
  const add = e.target.closest(".add-row");
  if (add) {
    const name = add.dataset.rows;
    const tpl = document.getElementById(name + "-template");
    const rows = document.getElementById(name);
    if (tpl && rows) rows.appendChild(tpl.content.cloneNode(true));
    return;
  }
  const remove = e.target.closest(".remove-row");
  if (remove) remove.closest(".row").remove();
});
// htmx sends the CSRF token of the page with every request it makes.
document.addEventListener("htmx:configRequest", (e) => {
  const token = document.querySelector("input[name=csrf]");
  if (token && !e.detail.parameters.csrf) e.detail.parameters.csrf = token.value;
});
// Copy buttons: the text (or value) of the element `data-copy` names.
document.addEventListener("click", async (e) => {
  const button = e.target.closest("button.copy");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text.trim());
    button.textContent = "Copied";
  } catch {
    if (source.select) source.select();
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
});
