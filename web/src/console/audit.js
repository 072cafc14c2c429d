// The audit trail: GET /api/v1/audit (newest first); the whole trail as CSV
// is a plain link.
import { api } from './api.js';
import { h, $, fullTime, visible } from './dom.js';

// The server's action names (src/access, src/console, src/wall.rs); an
// unknown one is shown as it is.
const ACTIONS = {
  login: '登录', login_failed: '登录失败', login_refused: '登录被拒（尝试过多，每个地址每 15 分钟记一次）', logout: '退出登录',
  credential_created: '生成凭据', credential_revoked: '撤销凭据', credential_expired: '凭据到期',
  credential_first_use_from_address: '凭据首次从新地址使用',
  wall_changed: '设置大屏', settings_changed: '修改设置', export: '导出', user_created: '新建账号',
  rejected_viewed: '查看拒收记录', audit_downloaded: '下载审计记录',
  user_disabled: '停用账号', user_enabled: '启用账号', user_sessions_ended: '结束账号的全部会话',
  user_unlocked: '解除登录锁定', password_changed: '修改密码', password_change_failed: '修改密码失败（当前密码错误）',
};

export class Audit {
  constructor() {
    $('audit-refresh').addEventListener('click', () => this.load());
  }

  async load() {
    const err = $('audit-error');
    let j;
    try {
      j = await api('GET', '/api/v1/audit?limit=200');
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = `读取失败：${e.message}`;
      err.hidden = false;
      return;
    }
    err.hidden = true;
    const rows = j.audit ?? [];
    const detail = (d) => (d == null ? '' : typeof d === 'string' ? d : JSON.stringify(d));
    $('audit-rows').replaceChildren(...(rows.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colSpan: 6 }, '暂无记录'))]
      : rows.map((r) => h('tr', { dataset: { testid: 'audit-row', action: String(r.action ?? '') } },
        h('td', { class: 'nowrap' }, fullTime(r.at)),
        h('td', {}, visible(r.actor ?? '')),
        h('td', { title: String(r.action ?? '') }, ACTIONS[r.action] ?? visible(r.action ?? '')),
        h('td', {}, visible(r.target ?? '')),
        h('td', { class: 'mono' }, visible(r.address ?? '')),
        h('td', { class: 'detail' }, visible(detail(r.detail)))))));
  }
}
