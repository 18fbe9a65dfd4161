-- cdfilter.lua: Wireshark/tshark plugin for cdfilter recordings (docs/recording.md).
--
-- A recording is a pcapng file whose packets on LINKTYPE_USER0 (147) are cdfilter.TraceRecord
-- messages and on LINKTYPE_USER1 (148) drop notices (cdfilter.TraceBatch without records). This
-- plugin hands each packet to Wireshark's built-in protobuf dissector with the message type set,
-- so every field is decoded by name from the project's .proto files.
--
-- Install: copy this file to ~/.local/lib/wireshark/plugins/ (or pass -X lua_script:cdfilter.lua
-- to tshark), and add the project's proto/ directory to the protobuf search paths
-- (Preferences > Protocols > Protobuf > Protobuf search paths, "Load all files" ticked), plus
-- the directory holding google/protobuf/descriptor.proto (Debian: /usr/include, from
-- libprotobuf-dev). On the command line:
--   tshark -X lua_script:cdfilter.lua \
--     -o 'uat:protobuf_search_paths:"/usr/include","FALSE"' \
--     -o 'uat:protobuf_search_paths:"<repo>/proto","TRUE"' -r run.pcapng -V
-- Wireshark's protobuf dissector and the pb_msg_type convention: the Wireshark User's Guide,
-- "Protobuf" protocol reference (wiki.wireshark.org/Protobuf).

local protobuf = Dissector.get("protobuf")

local record = Proto("cdfilter", "cdfilter trace record")
local drop = Proto("cdfilter_drop", "cdfilter drop notice")

local function hand_to_protobuf(tvb, pinfo, tree, proto, message)
  pinfo.cols.protocol = proto.name
  local sub = tree:add(proto, tvb(), proto.description)
  pinfo.private["pb_msg_type"] = "message," .. message
  protobuf:call(tvb, pinfo, sub)
end

function record.dissector(tvb, pinfo, tree)
  hand_to_protobuf(tvb, pinfo, tree, record, "cdfilter.TraceRecord")
end

function drop.dissector(tvb, pinfo, tree)
  hand_to_protobuf(tvb, pinfo, tree, drop, "cdfilter.TraceBatch")
  pinfo.cols.info = "records dropped (see cdfilter.TraceBatch.dropped)"
end

local encap = DissectorTable.get("wtap_encap")
encap:add(wtap_encaps.USER0, record)
encap:add(wtap_encaps.USER1, drop)
