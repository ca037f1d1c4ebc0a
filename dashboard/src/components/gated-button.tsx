import { useId, type MouseEvent } from "react";

import { Button, type ButtonProps } from "@/components/ui/button";
import { Tooltip, TooltipContent, TooltipTrigger } from "@/components/ui/tooltip";
import type { Permission } from "@/lib/scopes";
import { cn } from "@/lib/utils";

/**
 * A button for an action the signed-in agent may not be allowed to take.
 * When it is not, the button stays focusable but inert (aria-disabled, not
 * disabled, so keyboard users reach it) and says why: in a tooltip on hover
 * or focus, and to screen readers through aria-describedby.
 */
export function GatedButton({ permission, className, onClick, children, ...props }: ButtonProps & { permission: Permission }) {
  const id = useId();
  if (permission.allowed) {
    return <Button className={className} onClick={onClick} {...props}>{children}</Button>;
  }
  const block = (e: MouseEvent<HTMLButtonElement>) => e.preventDefault();
  return (
    <Tooltip>
      <TooltipTrigger asChild>
        <Button
          {...props}
          className={cn("cursor-not-allowed opacity-50 hover:bg-inherit", className)}
          aria-disabled="true"
          aria-describedby={id}
          data-disabled-reason={permission.reason}
          onClick={block}
        >
          {children}
          <span id={id} className="sr-only">{permission.reason}</span>
        </Button>
      </TooltipTrigger>
      <TooltipContent>{permission.reason}</TooltipContent>
    </Tooltip>
  );
}
