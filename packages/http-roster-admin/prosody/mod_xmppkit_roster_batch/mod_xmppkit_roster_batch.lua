-- mod_xmppkit_roster_batch: many roster items in one privileged roster set, saved once.
-- Copyright (C) 2026 the xmppkit authors. MIT licensed (see LICENSE in @xmppkit/http-roster-admin).
--
-- A companion to mod_privilege (XEP-0356, https://xmpp.org/extensions/xep-0356.html) for
-- @xmppkit/http-roster-admin. mod_privilege takes one item per roster set and saves the user's whole roster
-- after each, so filling a roster of n contacts costs O(n^2) serialisation. This module takes all the
-- items of one set, applies them to the roster in memory, writes the changed keys in ONE storage call, and
-- pushes each change to the user's interested resources. Advertised on the host's disco#info as
-- urn:xmppkit:roster-batch:0; the gateway uses it when it sees that feature and falls back to
-- mod_privilege's per-item sets otherwise.
--
--   <iq type="set" to="user@host" id="...">
--     <query xmlns="urn:xmppkit:roster-batch:0">
--       <item jid="a@example.com" name="A" subscription="both"><group>G</group></item>
--       <item jid="b@example.com" subscription="remove"/>
--     </query>
--   </iq>
--
-- With replace="true" the items are the user's whole roster: contacts not listed are removed, and an item
-- equal to the stored one (name, groups, and subscription when given) is left alone. The gateway then needs
-- no roster get and no diff of its own: one request per user, and nothing written when nothing changed.
--
-- Reply: the roster's version after the set, how many items it added, changed, removed or found equal, and
-- the items it refused; when it refused any, also each item it changed, with what it did:
--   <query xmlns="urn:xmppkit:roster-batch:0" added="3" changed="0" removed="1" unchanged="45" ver="Xk3…:17"/>
--   <query … added="1" …> <item jid="a@example.com" change="add"/> <item jid="c@example.com/x" error="bad-request"/> </query>
-- A whole-set error (forbidden without mod_privilege's roster "set"/"both" grant, item-not-found for an
-- account that does not exist, internal-server-error when storage fails) leaves the roster as it was.
--
-- Versions (in the spirit of XEP-0237, https://xmpp.org/extensions/xep-0237.html): a get of this namespace
-- answers only the roster's version, <query xmlns="urn:xmppkit:roster-batch:0" ver="Xk3…:17"/> (no ver: the
-- roster has none yet), with mod_privilege's roster "get"/"both" grant. A set with if-ver="…" is applied only
-- while the roster is still at that version, else refused whole with <conflict/>: the gateway sends just the
-- difference from what it last applied, and nothing at all when neither the web app's roster nor the server's
-- changed. The version is an id the module gives the roster when it first writes it (a new id for an account
-- deleted and made again) and Prosody's own counter, which every save of the roster increments (a client's
-- roster edit, a subscription change, mod_privilege's sets, this module).
--
-- On file storage the module remembers the versions of up to roster_batch_known_versions (20000) rosters, so
-- that a version get for a user who is offline costs one stat of the roster file, not a read of it (below).
--
-- Load it on the VirtualHost whose users the gateway serves, next to "privilege":
--   plugin_paths = { "/usr/lib/node_modules/@xmppkit/gateway/node_modules/@xmppkit/http-roster-admin/prosody" }
--   modules_enabled = { ...; "privilege"; "xmppkit_roster_batch" }

local jid = require "util.jid";
local st = require "util.stanza";
local storagemanager = require "core.storagemanager";
local rostermanager = require "core.rostermanager";
local user_exists = require "core.usermanager".user_exists;
local datamanager = require "util.datamanager";
local modulemanager = require "core.modulemanager";
local new_id = require "util.id".medium;
local new_cache = require "util.cache".new;
local lfs = require "lfs";
local bare_sessions = prosody.bare_sessions;

local find = string.find;
local NS = "urn:xmppkit:roster-batch:0";
local SUBSCRIPTIONS = { both = true, to = true, from = true, none = true };
local max_items = module:get_option_number("roster_batch_max_items", 1000);
local fast_save = module:get_option_boolean("roster_batch_fast_save", true);
local known_max = module:get_option_number("roster_batch_known_versions", 20000);

module:add_feature(NS);

-- The grant mod_privilege recorded on the component's session when it authenticated.
local function roster_grant(session, host)
	local privileges = session.privileges and session.privileges[host];
	return privileges and privileges.roster;
end

-- The roster's version: the module's id for it and Prosody's save counter; nil while it has none.
local function version_of(roster)
	local metadata = roster[false];
	local id, n = metadata and metadata.xmppkit_id, metadata and metadata.version;
	if type(id) ~= "string" or type(n) ~= "number" then return nil; end
	return id .. ":" .. n;
end

-- The stored form of one <item/>, or nil and an error condition. (Hot: once per contact per sync.)
local function wanted_entry(owner, roster, item)
	local attr = item.attr;
	local contact = attr.jid and jid.prep(attr.jid);
	if not contact or contact == "pending" or find(contact, "/", 1, true) then return nil, "bad-request"; end
	if contact == owner then return nil, "not-allowed"; end
	local subscription = attr.subscription;
	if subscription == "remove" then return contact, false; end
	local old = roster[contact];
	if not SUBSCRIPTIONS[subscription] then subscription = old and old.subscription or "none"; end
	local name = attr.name;
	if name == "" then name = nil; end
	local entry = { name = name, groups = {}, subscription = subscription };
	if subscription ~= "both" and subscription ~= "to" then entry.ask = old and old.ask; end
	local groups = entry.groups;
	for _, child in ipairs(item.tags) do
		if child.name == "group" then
			local text = child[1];
			if #child ~= 1 or type(text) ~= "string" then text = child:get_text(); end
			if text and text ~= "" then groups[text] = true; end
		end
	end
	return contact, entry;
end

local function same_entry(a, b)
	if not a or a.name ~= b.name or a.subscription ~= b.subscription or a.ask ~= b.ask then return false; end
	local n = 0;
	for group in pairs(a.groups) do
		if not b.groups[group] then return false; end
		n = n + 1;
	end
	for _ in pairs(b.groups) do n = n - 1; end
	return n == 0;
end

-- What the set asks for: contact -> new entry (false: remove), the refused items, and how many were unchanged.
local function plan(roster, owner, items, replace)
	local changes, refused, listed, unchanged = {}, {}, {}, 0;
	for _, item in ipairs(items) do
		local contact, entry = wanted_entry(owner, roster, item);
		if not contact then
			refused[#refused + 1] = { jid = item.attr.jid or "", error = entry };
		else
			listed[contact] = true;
			if entry == false then
				if roster[contact] then changes[contact] = false; end -- absent already: nothing to do
			elseif same_entry(roster[contact], entry) then
				unchanged = unchanged + 1;
			else
				changes[contact] = entry;
			end
		end
	end
	if replace then
		for contact in pairs(roster) do
			if contact and contact ~= "pending" and not listed[contact] then changes[contact] = false; end
		end
	end
	return changes, refused, unchanged;
end

-- The versions of the rosters of up to roster_batch_known_versions users, so that a version get for a user
-- whose roster is not in memory (offline, beyond Prosody's roster cache) reads no roster file. Kept only on
-- file storage (no mod_groups, no anonymous logins), each with the identity of the roster file it was read
-- from or written to (inode, size, modification time): a version is answered only while one stat of the file
-- finds it the same. util.datamanager's callback, installed once per process for every host, also forgets a
-- user's version at each write of their roster through it (a client's edit, a subscription, mod_privilege);
-- the stat also catches what the callback cannot see (another process, or a callback list cut short: see
-- below). This module records versions after its own saves and loads, and forgets them when the account is
-- deleted.
local shared = module:shared("/*/xmppkit_roster_batch/known");
if not shared.forget then
	shared.hosts = {};
	function shared.forget(username, host, datastore, data)
		local cache = datastore == "roster" and username and shared.hosts[host];
		if cache then cache:set(username, nil); end
		return username, host, datastore, data;
	end
	-- Never removed: util.datamanager's remove_callback leaves a hole in its list, and the callbacks added after
	-- the removed one are not called any more (mod_groups and anonymous logins remove theirs when unloaded, on
	-- any host). The stat of the file (recall, below) is what keeps a version right then.
	datamanager.add_callback(shared.forget);
end
function module.unload()
	shared.hosts[module.host] = nil;
end

-- The host's roster stores, opened once (opening fires an event and may build a shim each time), whether the
-- roster file may be written here (Prosody's file storage, "internal", and no module on the host that changes
-- or drops data on its way to the files: mod_groups, anonymous logins, with datamanager callbacks); the known
-- versions made there (`known`, nil elsewhere).
local roster_map, roster_keyval, own_file, known;
local function stores(host)
	if not roster_keyval then
		roster_map = storagemanager.open(host, "roster", "map");
		roster_keyval = storagemanager.open(host, "roster", "keyval");
		local _, driver = storagemanager.get_driver(host, "roster");
		local files_only = driver == "internal" and not modulemanager.is_loaded(host, "groups")
			and module:get_option_string("authentication") ~= "anonymous";
		own_file = fast_save and files_only;
		if files_only and known_max > 0 then
			known = new_cache(known_max);
			shared.hosts[host] = known;
		end
		module:log("debug", own_file and "rosters are written to their files by this module" or "rosters are saved through the storage API");
	end
	return roster_map, roster_keyval, own_file;
end

-- The host's known versions (nil where they are not kept).
local function known_versions(host)
	stores(host);
	return known;
end

-- Remember the version of `roster` (just loaded or saved) with the identity of its file now.
local getpath = datamanager.getpath;
local function remember(versions, username, host, roster)
	local attr = lfs.attributes(getpath(username, host, "roster"));
	versions:set(username, { ver = version_of(roster) or false, ino = attr and attr.ino, size = attr and attr.size,
		mtime = attr and attr.modification });
end

-- The remembered version (false: none) while the roster file is the one it was remembered with; nil: unknown.
local function recall(versions, username, host)
	local known_ver = versions:get(username);
	if not known_ver then return nil; end
	local attr = lfs.attributes(getpath(username, host, "roster"));
	if (attr and attr.ino) ~= known_ver.ino or (attr and attr.size) ~= known_ver.size
		or (attr and attr.modification) ~= known_ver.mtime then
		versions:set(username, nil);
		return nil;
	end
	return known_ver.ver;
end

-- A value as a Lua literal, appended to `out` (strings with %q, integers exactly); nil for what a roster
-- cannot hold (functions…), and then the caller falls back to Prosody's serializer.
local fmt, concat = string.format, table.concat;
local math_type = math.type or function(v) return v % 1 == 0 and "integer" or "float"; end
local pair;
local function literal(v, out, n)
	local t = type(v);
	if t == "string" then n = n + 1; out[n] = fmt("%q", v);
	elseif t == "boolean" then n = n + 1; out[n] = v and "true" or "false";
	elseif t == "number" then n = n + 1; out[n] = math_type(v) == "integer" and fmt("%d", v) or fmt("%.17g", v);
	elseif t == "table" then
		n = n + 1; out[n] = "{";
		for k, x in pairs(v) do
			n = pair(k, x, out, n); if not n then return nil; end
		end
		n = n + 1; out[n] = "}";
	else return nil; end
	return n;
end

-- `[k]=v;` appended to `out`.
function pair(k, v, out, n)
	n = n + 1; out[n] = "[";
	n = literal(k, out, n); if not n then return nil; end
	n = n + 1; out[n] = "]=";
	n = literal(v, out, n); if not n then return nil; end
	n = n + 1; out[n] = ";";
	return n;
end

-- The roster as Prosody's file storage writes it ("return {…};", read back by its loader), with far fewer
-- allocations than util.serialization: Prosody's collector runs almost without pause (threshold 105 %), so
-- every allocated byte is paid for by a sweep of the whole heap. Measured for 50 contacts under Prosody's
-- GC settings with 24 MB of heap: 1.43 ms (util.serialization) against 0.25 ms. Contacts of the usual shape
-- take one format each; anything else goes through `literal`.
local USUAL = { subscription = true, groups = true, name = true, ask = true };
local function usual(item)
	for k, v in pairs(item) do
		if not USUAL[k] or (k == "groups" and type(v) ~= "table") or (k ~= "groups" and type(v) ~= "string") then return false; end
	end
	for group, on in pairs(item.groups or {}) do
		if type(group) ~= "string" or on ~= true then return false; end
	end
	return item.subscription ~= nil and item.groups ~= nil;
end

local function roster_file(roster)
	local out, n = { "return {" }, 1;
	for contact, item in pairs(roster) do
		if type(contact) == "string" and type(item) == "table" and usual(item) then
			local g, m = {}, 0;
			for group in pairs(item.groups) do m = m + 1; g[m] = fmt("[%q]=true;", group); end
			n = n + 1;
			out[n] = fmt("[%q]={subscription=%q;groups={%s};%s%s};", contact, item.subscription, concat(g),
				item.name and fmt("name=%q;", item.name) or "", item.ask and fmt("ask=%q;", item.ask) or "");
		else
			n = pair(contact, item, out, n); if not n then return nil; end
		end
	end
	n = n + 1; out[n] = "};\n";
	return concat(out);
end

-- One storage call, after the version is moved on as rostermanager.save_roster does (the account was checked
-- already): the changed contacts only, where the driver stores a map natively (SQL); the whole roster once
-- where it keeps a roster as one value (file and memory storage: storagemanager's map shim would read and
-- parse it again before writing it), on file storage written here (roster_file) unless turned off with
-- roster_batch_fast_save = false.
local function save(username, host, roster, changed)
	local metadata = roster[false];
	if not metadata then metadata = {}; roster[false] = metadata; end
	if metadata.broken then return nil, "the stored roster is broken"; end
	if type(metadata.xmppkit_id) ~= "string" then metadata.xmppkit_id = new_id(); end
	if metadata.version ~= true then metadata.version = (metadata.version or 0) + 1; end
	local map, keyval, own = stores(host);
	if own then
		local text = roster_file(roster);
		-- A failed write goes the storage API's way, which also makes a data directory removed meanwhile.
		if text and datamanager.store_raw(datamanager.getpath(username, host, "roster", nil, true), text) then return true; end
	end
	if not (map and map.set_keys) or map.keyval_store then
		return keyval:set(username, roster);
	end
	local keys = { [false] = metadata };
	for contact in pairs(changed) do keys[contact] = roster[contact] or map.remove; end
	return map:set_keys(username, keys);
end

-- The account named by the IQ's `to` (username, host), when the component holds one of the `wanted` grants;
-- false after answering with an error; nil for an IQ that is not this host's (left to other handlers).
local function granted(event, wanted, grants)
	local origin, stanza = event.origin, event.stanza;
	local username, host = jid.split(stanza.attr.to);
	if host ~= module.host or not username then return nil; end
	if not wanted[roster_grant(origin, host) or ""] then
		origin.send(st.error_reply(stanza, "auth", "forbidden", "needs mod_privilege's roster permission " .. grants));
		return false;
	end
	return username, host;
end

-- The roster of the account (username, host from `granted`), and `done`, to call once the roster is no longer
-- needed; false after answering an error. With `check_account`, an item-not-found for an account that does
-- not exist (a user online exists: no account lookup, which reads the accounts store). Also whether it loaded
-- without error. `done` drops the roster of a user who is offline from Prosody's roster cache when this call
-- put it there (it is saved, and a refresh of many users would fill the cache with rosters nobody asked for,
-- and Prosody's heap with them, which its collector sweeps at every step).
local function load(event, username, host, check_account)
	local bare = username .. "@" .. host;
	local online = bare_sessions[bare];
	if check_account and not online and not user_exists(username, host) then
		event.origin.send(st.error_reply(event.stanza, "cancel", "item-not-found", "no such account"));
		return false;
	end
	-- Prosody makes a host's roster cache at its first load of an offline user's roster: looked up again in done().
	local host_session = prosody.hosts[host];
	local cache = host_session and host_session.roster_cache;
	local cached = not online and cache and cache:get(bare) ~= nil;
	local roster, err = rostermanager.load_roster(username, host);
	if not roster then
		event.origin.send(st.error_reply(event.stanza, "wait", "internal-server-error", "could not load the roster"));
		return false;
	end
	local function done()
		cache = host_session and host_session.roster_cache;
		if cache and not online and not cached and not bare_sessions[bare] and cache:get(bare) == roster then
			cache:set(bare, nil);
		end
	end
	return roster, done, not err;
end

local MAY_GET, MAY_SET = { get = true, both = true }, { set = true, both = true };

-- An account deleted: its version forgotten, and its roster dropped from Prosody's roster cache, where
-- mod_roster's own user-deleted handler (priority 300) has just loaded it while its files are removed: a
-- roster left there would come back, with its old version, to an account made again under that name.
module:hook_global("user-deleted", function(event)
	if event.host ~= module.host then return; end
	local versions = known_versions(event.host);
	if versions then versions:set(event.username, nil); end
	local host_session = prosody.hosts[event.host];
	local cache = host_session and host_session.roster_cache;
	if cache then cache:set(event.username .. "@" .. event.host, nil); end
end);

-- A version get: no roster loaded when its version is known; an unknown account's roster has none.
module:hook("iq-get/bare/" .. NS .. ":query", function(event)
	local username, host = granted(event, MAY_GET, '"get" or "both"');
	if not username then return username == false or nil; end
	local versions = known_versions(host);
	local ver = versions and recall(versions, username, host);
	if ver == nil then
		local roster, done, clean = load(event, username, host, false);
		if not roster then return true; end
		ver = version_of(roster);
		if versions and clean then remember(versions, username, host, roster); end
		done();
	end
	event.origin.send(st.reply(event.stanza):tag("query", { xmlns = NS, ver = ver or nil }));
	return true;
end);

-- Apply `changes` and save once (also when nothing changed but the roster has no id yet, so that its version
-- can be given); false after answering an error.
local function apply(event, username, host, roster, changes)
	local before, kinds = {}, {};
	for contact, entry in pairs(changes) do
		before[contact] = roster[contact] or false;
		kinds[contact] = not entry and "remove" or roster[contact] and "change" or "add";
		roster[contact] = entry or nil;
	end
	local metadata = roster[false];
	if next(changes) or not (metadata and metadata.xmppkit_id) then
		local ok, err = save(username, host, roster, changes);
		if not ok then
			for contact, old in pairs(before) do roster[contact] = old or nil; end
			module:log("error", "saving the roster of %s@%s failed: %s", username, host, tostring(err));
			event.origin.send(st.error_reply(event.stanza, "wait", "internal-server-error", "could not save the roster"));
			return false;
		end
		local versions = known_versions(host);
		if versions then remember(versions, username, host, roster); end
	end
	return kinds;
end

-- A set: the roster checked against if-ver, the items planned, applied and saved once, the reply, the pushes.
local function set_roster(event, username, host, roster)
	local origin, stanza = event.origin, event.stanza;
	local owner = username .. "@" .. host;
	local query = stanza.tags[1];
	local expected = query.attr["if-ver"];
	if expected and expected ~= version_of(roster) then
		origin.send(st.error_reply(stanza, "cancel", "conflict", "the roster changed since that version"));
		return;
	end
	local items = {};
	for item in query:childtags("item", NS) do items[#items + 1] = item; end
	if #items > max_items then
		origin.send(st.error_reply(stanza, "modify", "policy-violation", ("at most %d items per set"):format(max_items)));
		return;
	end

	local changes, refused, unchanged = plan(roster, owner, items, query.attr.replace == "true");
	local kinds = apply(event, username, host, roster, changes);
	if not kinds then return; end

	local counts = { add = 0, change = 0, remove = 0 };
	for _, kind in pairs(kinds) do counts[kind] = counts[kind] + 1; end
	local reply = st.reply(stanza):tag("query", { xmlns = NS, unchanged = tostring(unchanged), ver = version_of(roster),
		added = tostring(counts.add), changed = tostring(counts.change), removed = tostring(counts.remove) });
	-- Each change named only beside a refusal (the gateway then says what was applied): a reply of 50 items
	-- costs Prosody's collector as much as their pushes.
	if refused[1] then
		for contact, kind in pairs(kinds) do reply:tag("item", { jid = contact, change = kind }):up(); end
		for _, r in ipairs(refused) do reply:tag("item", { jid = r.jid, error = r.error }):up(); end
	end
	origin.send(reply);
	for contact in pairs(changes) do rostermanager.roster_push(username, host, contact); end
	if next(changes) then
		module:log("debug", "roster items set for %s in one save: %d items, %d refused, %d unchanged", owner, #items, #refused, unchanged);
	else
		module:log("debug", "roster of %s already as asked: %d items, %d refused", owner, #items, #refused);
	end
end

module:hook("iq-set/bare/" .. NS .. ":query", function(event)
	local username, host = granted(event, MAY_SET, '"set" or "both"');
	if not username then return username == false or nil; end
	local roster, done = load(event, username, host, true);
	if not roster then return true; end
	set_roster(event, username, host, roster);
	done();
	return true;
end);
