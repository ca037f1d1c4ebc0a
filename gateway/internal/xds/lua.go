package xds

// refineHeader marks a local reply whose reason responseLua decides, because
// the difference is only in Envoy's message text, which local_reply_config
// filters cannot see.
const refineHeader = "x-agentidp-refine-reason"

// responseLua runs on every response after the transcoder (encoders run in
// reverse order), so it sees what the REST client will get:
//
//   - A gRPC method chooses its REST status with StatusHeader response
//     metadata. Only a 200 is upgraded, to a 2xx: an error status set from
//     grpc-status always wins. The header never reaches the client.
//   - The transcoder copies grpc-status and grpc-message into REST
//     responses; they mean nothing to a REST client.
//   - Every 503 tells the client when to retry (RFC 9110 §10.2.3): a
//     service or dependency that is down is usually back, and re-admitted
//     by the health checks, within about a second. A Retry-After that the
//     answer already has (authz, the token service) is kept.
//   - A 400 the transcoder raised while reading the URL is an unknown query
//     parameter when its message says it could not find the field; every
//     other one stays MALFORMED_REQUEST. Only replies marked by
//     localReplyConfig are buffered, so upstream bodies stream untouched.
const responseLua = `
function envoy_on_response(handle)
  local headers = handle:headers()
  local code = headers:get("` + StatusHeader + `")
  if code ~= nil then
    headers:remove("` + StatusHeader + `")
    if headers:get(":status") == "200" and string.match(code, "^2%d%d$") then
      headers:replace(":status", code)
    end
  end

  if headers:get(":status") == "503" and headers:get("retry-after") == nil then
    headers:add("retry-after", "1")
  end

  local ctype = headers:get("content-type") or ""
  if string.sub(ctype, 1, 16) ~= "application/grpc" then
    headers:remove("grpc-status")
    headers:remove("grpc-message")
  end

  if headers:get("` + refineHeader + `") ~= nil then
    headers:remove("` + refineHeader + `")
    local body = handle:body()
    if body ~= nil then
      local text = body:getBytes(0, body:length())
      if string.find(text, '"message":"Could not find field ', 1, true) then
        local fixed = string.gsub(text, '"reason":"MALFORMED_REQUEST"', '"reason":"UNKNOWN_QUERY_PARAMETER"', 1)
        body:setBytes(fixed)
      end
    end
  end
end
`
