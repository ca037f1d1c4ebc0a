import * as React from "react";

import { cn } from "@/lib/utils";

/** A native <select> styled like shadcn/ui's inputs: keyboard and screen-reader behaviour for free. */
const NativeSelect = React.forwardRef<HTMLSelectElement, React.ComponentProps<"select">>(({ className, ...props }, ref) => (
  <select
    className={cn(
      "flex h-9 w-full rounded-md border border-input bg-background px-3 py-1 text-sm shadow-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring disabled:cursor-not-allowed disabled:opacity-50",
      className,
    )}
    ref={ref}
    {...props}
  />
));
NativeSelect.displayName = "NativeSelect";

export { NativeSelect };
