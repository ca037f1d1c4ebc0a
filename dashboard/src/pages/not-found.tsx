import { Link } from "react-router";

import { PageHeader } from "@/components/layout";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p className="text-sm">Nothing lives at this address. <Link to="/" className="underline">Go to the overview</Link>.</p>
    </>
  );
}
