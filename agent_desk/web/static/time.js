/* Dates and times as the province reads them (Asia/Shanghai). */

const ZONE = "Asia/Shanghai";

/** "2024-06-12 09:05" of an ISO timestamp; "—" when there is none. */
export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hour12: false,
  }).formatToParts(date);
  const get = (type) => (parts.find((p) => p.type === type) || {}).value || "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

/** Today's date in the province, "YYYY-MM-DD". */
export function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

/** The time of day in the province, "HH:MM:SS". */
export const clockTime = (date) => date.toLocaleTimeString("zh-CN", { hour12: false, timeZone: ZONE });
