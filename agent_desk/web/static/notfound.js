/* 页面不存在 (404.html): 返回首页 leads to the signed-in user's own page, or to the login page. */

import { api } from "./api.js";
import { $ } from "./dom.js";
import { HOME } from "./home.js";

api("GET", "/me", undefined, { redirectOn401: false })
  .then((who) => { if (who && HOME[who.role]) $("#nf-home").href = HOME[who.role]; })
  .catch(() => {});   // not signed in: the login page it already points to
