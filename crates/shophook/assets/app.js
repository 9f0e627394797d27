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
