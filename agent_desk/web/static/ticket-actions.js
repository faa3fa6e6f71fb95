/* One form per ticket action: its fields (choices named from the vocabulary) and the request body built
   from them. */

import { el } from "./dom.js";
import { features } from "./features.js";
import { field, optionList } from "./forms.js";
import { knowledgeBox } from "./knowledge.js";
import { suggestionsBox, unitField } from "./units.js";
import { label, labels } from "./vocab.js";

const hint = (text) => el("p", { class: "hint" }, text);
// No maxlength: each field's limit is the server's (GET /limits, applied by ticket.js), shown as it is typed.
const text = (name, { required = false } = {}) => el("textarea", { name, required });
const choice = (name, vocab) => el("select", { name, required: true }, optionList(labels(vocab)));

const FORMS = {
  dispatch: async (ctx) => {
    const parts = [await unitField("host_unit", label("event_fields", "host_unit")), await unitField("co_units", "协办单位（可选）", { multiple: true, required: false })];
    const f = await features();
    return [ctx.suggestedUnit ? hint(`预填建议承办单位：${ctx.suggestedUnit}`) : null,
      f.dispatch_suggest && ctx.ticket ? suggestionsBox(ctx.ticket) : null, ...parts];
  },
  resolve_directly: async () => {
    const answer = text("answer", { required: true });
    const ref = el("input", { type: "text", name: "knowledge_ref" });
    const f = await features();
    return [f.knowledge ? knowledgeBox(answer, ref) : null, field("答复内容", answer), field("知识库条目编号（可选）", ref)];
  },
  refuse: async () => [
    field("不予受理原因", choice("reason", "refusal_reasons")),
    field("向市民说明", text("explanation", { required: true }), "告知市民应通过何种渠道反映"),
  ],
  sign: async () => [hint("确认签收后开始办理，办理时限照常计算。")],
  request_return: async () => [
    field("退单理由", text("reason", { required: true })),
    field("法律法规依据", text("legal_basis", { required: true }), "例如：《城市供水条例》第二十二条"),
  ],
  approve_return: async () => [hint("同意后工单退回平台重新派单。")],
  reject_return: async () => [field("驳回理由", text("reason"))],
  start_consultation: async () => [await unitField("units", "会商单位（至少两家）", { multiple: true, required: true })],
  settle_consultation: async () => [await unitField("decided_unit", label("event_fields", "decided_unit")),
    await unitField("co_units", "协办单位（可选）", { multiple: true, required: false })],
  reply: async () => [field("答复内容", text("content", { required: true }))],
  approve_reply: async () => [hint("审核通过后进入回访。")],
  reject_reply: async () => [field("退回理由", text("reason"))],
  callback: async () => {   // 不满意原因 is required exactly when the verdict is 不满意
    const result = choice("result", "satisfaction");
    const reason = text("reason");
    const reasonField = field("不满意原因", reason, "市民不满意时必填：市民对办理结果哪里不满意");
    const sync = () => {
      const unsatisfied = result.value === "unsatisfied";
      reason.required = unsatisfied;
      reasonField.hidden = !unsatisfied;
    };
    result.addEventListener("change", sync);
    sync();
    return [field("回访结果", result), field("问题已解决", el("input", { type: "checkbox", name: "solved" })), reasonField];
  },
  appeal: async () => [
    field("申诉类别", choice("category", "exclusions")),
    field("申诉理由", text("reason", { required: true })),
  ],
  approve_appeal: async () => [field("认定依据", text("basis", { required: true }))],
  reject_appeal: async () => [field("驳回理由", text("reason"))],
  reopen: async () => [field("重办理由", text("reason"))],
  close_unsatisfied: async () => [hint("按不满意办结，计入满意率统计。")],
  seal_final_opinion: async () => [field("最终处理意见", text("opinion", { required: true }), "封存后同一诉求再次来电将关联至本工单")],
  merge: async () => [   // 并单
    hint("本工单并入主工单后不再单独办理；主工单的答复同样告知本市民，并为本市民单独回访。"),
    field("主工单编号", el("input", { type: "text", name: "host", required: true, inputmode: "numeric" }), "14位工单编号"),
    field("并单说明（可选）", text("reason")),
  ],
  unmerge: async () => [
    hint("撤销并单后本工单回到“已受理”，需重新派单或直接办结；已有的办理时限继续计算。"),
    field("撤销理由", text("reason", { required: true })),
  ],
  supervise: async () => [field("督办意见", text("note", { required: true }))],
  escalate: async () => [
    field("升级至", choice("to", "levels")),
    field("升级理由", text("reason", { required: true })),
  ],
};

/** The fields of ``action``'s form; ctx: { ticket, suggestedUnit }. */
export async function actionFields(action, ctx) {
  const make = FORMS[action];
  return make ? make(ctx) : [];
}

const NO_BODY = new Set(["sign", "approve_return", "approve_reply", "close_unsatisfied"]);
const LISTS = new Set(["co_units", "units"]);

/** The request body of ``action`` from its form (undefined for the actions that take none). */
export function bodyOf(action, form) {
  if (NO_BODY.has(action)) return undefined;
  for (const hidden of form.querySelectorAll("input[type=hidden]")) hidden.dispatchEvent(new Event("collect"));
  const body = {};
  for (const control of form.elements) {
    if (!control.name) continue;
    if (control.type === "checkbox") body[control.name] = control.checked;
    else if (control.multiple) body[control.name] = Array.from(control.selectedOptions).map((o) => o.value);
    else if (LISTS.has(control.name)) body[control.name] = control.value.split(/[,，、\s]+/).filter(Boolean);
    else body[control.name] = control.value.trim();
  }
  if (action === "resolve_directly" && !body.knowledge_ref) delete body.knowledge_ref;
  return body;
}
