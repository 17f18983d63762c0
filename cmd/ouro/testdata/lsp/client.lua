-- A headless Neovim session for TestLspNeovim: Neovim's built-in LSP client
-- runs `ouro lsp` on a spec, and what the client receives is written as JSON
-- for the Go test to check. Every wait ends as soon as its answer arrives.
local args = vim.fn.json_decode(table.concat(vim.fn.readfile(vim.env.OURO_LSP_PARAMS), "\n"))
local out = {}

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(out) }, args.output)
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  out.raw_diagnostics = {}
  local client_id = vim.lsp.start_client({
    name = "ouro",
    cmd = { args.ouro, "lsp" },
    root_dir = args.dir,
    flags = { debounce_text_changes = 0 },
    handlers = {
      ["textDocument/publishDiagnostics"] = function(e, result, ctx, config)
        table.insert(out.raw_diagnostics, result)
        return vim.lsp.diagnostic.on_publish_diagnostics(e, result, ctx, config)
      end,
    },
  })
  assert(client_id, "the client did not start")
  vim.cmd("edit " .. vim.fn.fnameescape(args.file))
  local bufnr = vim.api.nvim_get_current_buf()
  assert(vim.lsp.buf_attach_client(bufnr, client_id), "buf_attach_client failed")

  vim.wait(args.wait_ms, function() return #vim.diagnostic.get(bufnr) > 0 end, 20)
  out.diagnostics = vim.diagnostic.get(bufnr)

  local uri = vim.uri_from_bufnr(bufnr)
  local function request(method, pos)
    local params = { textDocument = { uri = uri }, position = pos }
    local res = vim.lsp.buf_request_sync(bufnr, method, params, args.wait_ms)
    for _, r in pairs(res or {}) do
      return r.result or { error = r.err }
    end
    return vim.NIL
  end
  out.hover = request("textDocument/hover", args.hover)
  out.definition = request("textDocument/definition", args.definition)

  -- Type `item.` as a user would, then ask for completion after it.
  vim.api.nvim_buf_set_lines(bufnr, args.complete.line, args.complete.line + 1, false, { args.complete.text })
  out.completion = request("textDocument/completion", { line = args.complete.line, character = #args.complete.text })
  vim.lsp.stop_client(client_id)
end)
if not ok then
  out.error = tostring(err)
end
finish()
