-- mod_xmppkit_report_forward: spam and abuse reports handed to the gateway with the reporter, named by the server.
-- Copyright (C) 2026 the xmppkit authors. MIT licensed (see LICENSE in @xmppkit/report-forward).
--
-- A companion to mod_spam_reporting (XEP-0377, https://xmpp.org/extensions/xep-0377.html) for
-- @xmppkit/report-forward. A user reports a JID by blocking it with a report attached (XEP-0191,
-- https://xmpp.org/extensions/xep-0191.html); mod_spam_reporting fires spam_reporting/{spam,abuse,unknown}-report
-- for each reported item, and mod_report_forward forwards the report to report_forward_to without saying who
-- filed it. This module hands each report to the external components (XEP-0114) listed in the same
-- report_forward_to, with the reporter as the server knows it (the c2s session that sent the block):
--
--   <iq type="set" from="example.org" to="gateway.example.org" id="...">
--     <handover xmlns="urn:xmppkit:report-forward:0" reporter="dave@example.org" resource="phone"
--               session="c2s..." type="spam">
--       <report xmlns="urn:xmpp:reporting:1" reason="urn:xmpp:reporting:spam">
--         ...the reporter's children...<jid xmlns="urn:xmpp:jid:0">spammer@bad.example</jid>
--       </report>
--       <forwarded xmlns="urn:xmpp:forward:0">   (when the report's stanza-id is in the reporter's archive)
--         <delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/><message xmlns="jabber:client" .../>
--       </forwarded>
--     </handover>
--   </iq>
--
-- type is spam, abuse or unknown (as mod_spam_reporting classed the report); resource and session are left
-- out when the session has none. The <report/> is the reporter's, with the reported JID appended last, as
-- mod_report_forward sends it (a urn:xmpp:reporting:0 report stays :0).
--
-- Only entries of report_forward_to that are external components of this server get a handover (checked at
-- each report); users, remote JIDs and MUC services get nothing from this module: the reporter's JID does not
-- leave the server. A handover the component did not take (it is not connected, or answers with a wait error
-- or not at all) waits in a queue per component, in memory, at most 1000 reports (the
-- oldest go first), and is sent again when the component authenticates and on a timer (2 s, doubling to
-- 60 s), in the order the reports came. A result means delivered; any other error (a cancel-type
-- service-unavailable too: a component without the handover) drops the report, with a line in the log. A module reload keeps the queue; a restart or an unload loses it.
--
-- Advertised on the host's disco#info as urn:xmppkit:report-forward:0. Load it on the VirtualHost (or
-- globally), next to "spam_reporting"; plugin_paths points at the package's prosody/ folder:
--   plugin_paths = { "/usr/lib/node_modules/@xmppkit/gateway/node_modules/@xmppkit/report-forward/prosody" }
--   modules_enabled = { ...; "spam_reporting"; "report_forward"; "xmppkit_report_forward" }
--   report_forward_to = { "gateway.example.org" }
--   report_forward_to_origin = false

local jid = require "util.jid";
local st = require "util.stanza";
local datetime = require "util.datetime".datetime;
local new_id = require "util.id".short;
local modulemanager = require "core.modulemanager";

local NS = "urn:xmppkit:report-forward:0";
local NS_SID = "urn:xmpp:sid:0";
local QUEUE_MAX = 1000;       -- undelivered handovers kept per component
local RETRY_FIRST = 2;        -- seconds before the first retry; doubled after each failed one
local RETRY_MAX = 60;
local IQ_TIMEOUT = 60;        -- no answer by then: sent again
-- Besides any type="wait" error. A cancel-type service-unavailable is a component that has no handover handler
-- (xmpp.js answers so for any IQ it does not know): retrying would hold the queue behind it for ever. The
-- gateway answers type="wait" while it is stopping.
local RETRY_CONDITIONS = { ["remote-server-timeout"] = true };

if module:get_host_type() ~= "local" then
	module:log("warn", "mod_xmppkit_report_forward belongs on a VirtualHost, not on %s: not loaded here", module.host);
	return;
end

module:depends("spam_reporting");
module:add_feature(NS);

local hosts = prosody.hosts;
local archive = module:open_store("archive", "archive");

-- destination -> { [1..n] = handover, inflight, attempt, timer, backoff, dropped, pumping, again }
local queues = {};
-- destination -> { host = the host object whose component events are hooked, on_auth, on_gone }
local watched = {};

-- An external component (XEP-0114) of this server, now: listed hosts may come and go with the config.
local function is_component(d)
	local host = hosts[d];
	return host ~= nil and host.type == "component" and modulemanager.is_loaded(d, "component") == true;
end

local pump;

local function retry_later(d, q)
	if q.timer or not q[1] then return; end
	local delay = q.backoff;
	q.backoff = math.min(delay * 2, RETRY_MAX);
	module:log("debug", "%d report(s) for %s: next try in %d s", #q, d, delay);
	q.timer = module:add_timer(delay, function ()
		q.timer = nil;
		pump(d);
	end);
end

-- Forget the handover in flight (its answer, if any, is ignored) and try again now.
local function resend_now(d)
	local q = queues[d];
	if not q then return; end
	if q.timer then q.timer:stop(); q.timer = nil; end
	q.backoff = RETRY_FIRST;
	q.inflight, q.attempt = nil, nil;
	if q[1] then
		module:log("info", "%s is connected: sending its %d queued report(s)", d, #q);
		pump(d);
	end
end

-- The component went away: what is in flight will get no answer; retry on the timer (or when it is back).
local function component_gone(d)
	local q = queues[d];
	if not q or not q.inflight then return; end
	q.inflight, q.attempt = nil, nil;
	retry_later(d, q);
end

-- Hear when d's component (re)authenticates or goes away, on that host's own event bus (never
-- module:context(d):hook, which falls back to the global bus for a host that does not exist). Again when
-- the host was deactivated and activated anew meanwhile.
local function watch(d)
	local host = hosts[d];
	local w = watched[d];
	if not host or (w and w.host == host) then return; end
	if w then
		module:unhook_object_event(w.host.events, "component-authenticated", w.on_auth);
		module:unhook_object_event(w.host.events, "component-disconnected", w.on_gone);
	end
	w = { host = host };
	w.on_auth = function () resend_now(d); end
	w.on_gone = function (event) -- (also fired for connections that never authenticated: not ours to mind)
		if event.session and event.session.type == "component" then component_gone(d); end
	end
	watched[d] = w;
	module:hook_object_event(host.events, "component-authenticated", w.on_auth);
	module:hook_object_event(host.events, "component-disconnected", w.on_gone);
end

-- The answer to one attempt: delivered, to be retried, or refused for good.
local function settle(d, q, attempt, handover, reply, err)
	if q.attempt ~= attempt then return; end -- abandoned (the component reconnected or went away meanwhile)
	q.inflight, q.attempt = nil, nil;
	local err_type, condition, text;
	if reply and reply.attr.type == "result" then
		if q[1] == handover then table.remove(q, 1); end
		q.backoff = RETRY_FIRST;
		module:log("debug", "report by %s delivered to %s", handover.attr.reporter, d);
		return pump(d);
	elseif reply then -- an error reply (mod_component's bounce arrives this way, through send_iq's wrapped origin)
		err_type, condition, text = reply:get_error();
	elseif type(err) == "table" then
		err_type, condition, text = err.type, err.condition, err.text;
	else
		err_type, condition, text = "wait", "internal-server-error", tostring(err);
	end
	if err_type == "wait" or RETRY_CONDITIONS[condition] then
		module:log("info", "%s did not take a report (%s %s%s): kept, %d queued", d, tostring(err_type), tostring(condition),
			text and (": " .. text) or "", #q);
		return retry_later(d, q);
	end
	if q[1] == handover then table.remove(q, 1); end
	q.backoff = RETRY_FIRST;
	module:log("warn", "%s refused a report (%s %s%s): dropped", d, tostring(err_type), tostring(condition), text and (": " .. text) or "");
	return pump(d);
end

local function send_head(d, q)
	if not is_component(d) then
		module:log("debug", "%s is not an external component here now: %d report(s) wait", d, #q);
		return retry_later(d, q);
	end
	watch(d);
	local handover = q[1];
	local attempt = {};
	q.inflight, q.attempt = handover, attempt;
	local iq = st.iq({ type = "set", from = module.host, to = d, id = new_id() }):add_child(handover);
	-- send_iq sends on the next tick (util.promise runs its executor through timer.add_task(0) once Prosody has
	-- started). A disconnected component's bounce comes back as a *resolved* error reply: mod_component answers
	-- through the origin send_iq wraps, which resolves with whatever reply has the IQ's id.
	module:send_iq(iq, nil, IQ_TIMEOUT):next(function (event)
		settle(d, q, attempt, handover, event.stanza);
	end, function (err)
		settle(d, q, attempt, handover, nil, err);
	end);
end

-- Send the head of d's queue unless one is in flight or a retry is pending. Never recurses: an answer settled
-- while pumping loops here instead.
function pump(d)
	local q = queues[d];
	if not q then return; end
	if q.pumping then q.again = true; return; end
	q.pumping = true;
	repeat
		q.again = false;
		if q[1] and not q.inflight and not q.timer then
			local ok, err = pcall(send_head, d, q);
			if not ok then
				module:log("error", "sending a report to %s failed: %s", d, tostring(err));
				q.inflight, q.attempt = nil, nil;
				retry_later(d, q);
			end
		end
	until not q.again;
	q.pumping = false;
end

local function enqueue(d, handover)
	local q = queues[d];
	if not q then
		q = { backoff = RETRY_FIRST, dropped = 0 };
		queues[d] = q;
	end
	if #q >= QUEUE_MAX then
		table.remove(q, 1);
		q.dropped = q.dropped + 1;
		module:log("warn", "report queue for %s is full (%d): dropped the oldest report, %d dropped so far", d, QUEUE_MAX, q.dropped);
	end
	q[#q + 1] = handover;
	pump(d);
end

-- The reported message from the reporter's archive, when the report names it by a stanza-id the reporter's
-- server or the reported entity gave it: a <forwarded/> copy, or nil.
local function archived_copy(report, reporter_username, reporter_bare, reported_jid)
	for sid in report:childtags("stanza-id", NS_SID) do
		local by = sid.attr.by and jid.prep(sid.attr.by);
		if sid.attr.id and (by == reported_jid or by == reporter_bare) then
			local ok, message, when, with = pcall(archive.get, archive, reporter_username, sid.attr.id);
			if ok and type(message) == "table" and message.name then
				local from_bare = message.attr.from and jid.bare(message.attr.from);
				-- Only a message the reported JID sent: `with` is the reported JID for the reporter's own
				-- messages to them too, which must not go out as evidence against them.
				if from_bare == reported_jid then
					message.attr.xmlns = "jabber:client";
					return st.stanza("forwarded", { xmlns = "urn:xmpp:forward:0" })
						:tag("delay", { xmlns = "urn:xmpp:delay", stamp = datetime(when) }):up()
						:add_child(message);
				end
			elseif not ok then
				module:log("debug", "no archive to look the reported message up in: %s", tostring(message));
			end
		end
	end
end

local function hand_over(report_type, event)
	local origin = event.origin;
	local username = origin and origin.username;
	if not username then return; end
	local destinations = {};
	for d in module:get_option_set("report_forward_to", {}) do
		if is_component(d) then destinations[#destinations + 1] = d; end
	end
	if not destinations[1] then return; end

	local reporter = jid.join(username, origin.host or module.host);
	local report = st.clone(event.report);
	report:text_tag("jid", event.jid, { xmlns = "urn:xmpp:jid:0" });
	local handover = st.stanza("handover", {
		xmlns = NS, reporter = reporter, resource = origin.resource, session = origin.id, type = report_type,
	}):add_child(report);
	local copy = archived_copy(event.report, username, reporter, event.jid);
	if copy then handover:add_child(copy); end

	module:log("debug", "%s report by %s handed over to %s", report_type, reporter, table.concat(destinations, ", "));
	for _, d in ipairs(destinations) do
		enqueue(d, #destinations > 1 and st.clone(handover) or handover);
	end
end

-- After mod_watch_spam_reports (0), before mod_report_forward (-1); returns nothing, so both still run. The
-- event is raised inside the user's block IQ, before mod_blocklist saves the block: a failure here must not
-- cost the user the block.
for _, report_type in ipairs({ "spam", "abuse", "unknown" }) do
	module:hook("spam_reporting/" .. report_type .. "-report", function (event)
		local ok, err = pcall(hand_over, report_type, event);
		if not ok then module:log("error", "could not hand a %s report over: %s", report_type, tostring(err)); end
	end, -0.5);
end

-- A reload (module:reload in the shell) keeps the queues; an unload or a restart loses them.
function module.save()
	local saved = {};
	for d, q in pairs(queues) do
		if q[1] then
			local items = { dropped = q.dropped };
			for i, handover in ipairs(q) do items[i] = handover; end
			saved[d] = items;
		end
	end
	return { queues = saved };
end

function module.restore(data)
	if type(data) ~= "table" or type(data.queues) ~= "table" then return; end
	for d, items in pairs(data.queues) do
		local q = { backoff = RETRY_FIRST, dropped = items.dropped or 0 };
		for i, handover in ipairs(items) do q[i] = handover; end
		queues[d] = q;
		module:log("info", "%d report(s) for %s kept across the reload", #q, d);
		pump(d);
	end
end

function module.unload()
	for d, q in pairs(queues) do
		if q.timer then q.timer:stop(); q.timer = nil; end
		q.inflight, q.attempt = nil, nil; -- an answer still to come is ignored
		if q[1] and not module.reloading then
			module:log("warn", "unloaded with %d report(s) for %s not delivered: they are lost", #q, d);
		end
	end
end
