/* Each role's own page (where signing in leads, and the header's 前往我的首页). */

export const HOME = { agent: "/agent.html", supervisor: "/supervisor.html", unit: "/unit.html", admin: "/users.html" };
