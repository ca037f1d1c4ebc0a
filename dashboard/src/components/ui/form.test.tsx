import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useForm } from "react-hook-form";
import { describe, expect, it } from "vitest";

import { Input } from "./input";
import { Form, FormControl, FormDescription, FormField, FormItem, FormLabel, FormMessage } from "./form";

function Demo({ described }: { described: boolean }) {
  const form = useForm({ defaultValues: { name: "" } });
  return (
    <Form {...form}>
      <form onSubmit={(e) => void form.handleSubmit(() => undefined)(e)}>
        <FormField control={form.control} name="name" rules={{ required: "A name is required." }} render={({ field }) => (
          <FormItem id="the-name">
            <FormLabel>Name</FormLabel>
            <FormControl><Input {...field} /></FormControl>
            {described && <FormDescription>Up to 128 characters.</FormDescription>}
            <FormMessage />
          </FormItem>
        )} />
        <button type="submit">Send</button>
      </form>
    </Form>
  );
}

describe("Form", () => {
  it("labels the control, describes it by its hint, and by its error once invalid", async () => {
    render(<Demo described />);
    const box = screen.getByLabelText("Name");
    expect(box).toHaveAttribute("id", "the-name");
    expect(box).not.toHaveAttribute("aria-invalid");
    expect(box).toHaveAccessibleDescription("Up to 128 characters.");
    await userEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(box).toHaveAccessibleDescription("Up to 128 characters. A name is required.");
    expect(box).toHaveFocus();
  });

  it("refers to no description that is not there", async () => {
    render(<Demo described={false} />);
    const box = screen.getByLabelText("Name");
    expect(box).not.toHaveAttribute("aria-describedby");
    await userEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(box).toHaveAttribute("aria-describedby", "the-name-message");
  });
});
