import { Check, Copy } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";

import { Button, type ButtonProps } from "@/components/ui/button";

/** Copies text; falls back to a selection copy where the Clipboard API is unavailable (plain http). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand("copy");
  ta.remove();
  if (!ok) throw new Error("copy failed");
}

/** `what` completes the name for screen readers ("Copy the client secret") while the button shows "Copy". */
export function CopyButton({ value, what, ...props }: { value: string; what: string } & ButtonProps) {
  const [done, setDone] = useState(false);
  return (
    <Button
      type="button"
      variant="outline"
      size="sm"
      onClick={() => {
        copyText(value).then(
          () => {
            setDone(true);
            setTimeout(() => setDone(false), 2000);
          },
          () => toast.error("Could not copy: select the text and copy it yourself."),
        );
      }}
      {...props}
    >
      {done ? <Check aria-hidden /> : <Copy aria-hidden />}
      <span>{done ? "Copied" : "Copy"}<span className="sr-only">{` ${what}`}</span></span>
    </Button>
  );
}
