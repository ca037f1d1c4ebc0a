/**
 * shadcn/ui's Form (react-hook-form): a field's label, control, description
 * and message share ids, so the control is labelled, described by its hint
 * and, when invalid, by its error (aria-invalid, aria-describedby).
 * Two changes to shadcn's form.tsx: FormItem takes an id (the control's,
 * which tests and the browser suite name), and a control is described by
 * its description only when one is rendered (no dangling reference).
 */
import type * as LabelPrimitive from "@radix-ui/react-label";
import { Slot } from "@radix-ui/react-slot";
import * as React from "react";
import {
  Controller, FormProvider, useFormContext, useFormState, type ControllerProps, type FieldPath, type FieldValues,
} from "react-hook-form";

import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";

const Form = FormProvider;

interface FormFieldContextValue { name: string }

const FormFieldContext = React.createContext<FormFieldContextValue | null>(null);

function FormField<TFieldValues extends FieldValues = FieldValues, TName extends FieldPath<TFieldValues> = FieldPath<TFieldValues>, TTransformed = TFieldValues>(
  props: ControllerProps<TFieldValues, TName, TTransformed>,
) {
  return (
    <FormFieldContext.Provider value={{ name: props.name }}>
      <Controller {...props} />
    </FormFieldContext.Provider>
  );
}

interface FormItemContextValue {
  id: string;
  described: boolean;
  setDescribed: (v: boolean) => void;
}

const FormItemContext = React.createContext<FormItemContextValue | null>(null);

function useFormField() {
  const field = React.useContext(FormFieldContext);
  const item = React.useContext(FormItemContext);
  if (!field || !item) throw new Error("useFormField is used inside <FormField> and <FormItem>");
  const { getFieldState } = useFormContext();
  const formState = useFormState({ name: field.name });
  const state = getFieldState(field.name, formState);
  return {
    name: field.name,
    formItemId: item.id,
    formDescriptionId: `${item.id}-description`,
    formMessageId: `${item.id}-message`,
    described: item.described,
    setDescribed: item.setDescribed,
    ...state,
  };
}

function FormItem({ id, className, ...props }: React.ComponentProps<"div">) {
  const generated = React.useId();
  const [described, setDescribed] = React.useState(false);
  const value = React.useMemo(() => ({ id: id ?? generated, described, setDescribed }), [id, generated, described]);
  return (
    <FormItemContext.Provider value={value}>
      <div data-slot="form-item" className={cn("space-y-1.5", className)} {...props} />
    </FormItemContext.Provider>
  );
}

function FormLabel({ className, ...props }: React.ComponentPropsWithoutRef<typeof LabelPrimitive.Root>) {
  const { error, formItemId } = useFormField();
  return <Label data-slot="form-label" data-error={!!error} className={cn("data-[error=true]:text-red-700 dark:data-[error=true]:text-red-300", className)} htmlFor={formItemId} {...props} />;
}

/** The ids that describe a field's control: its description (if any), then its error. */
function useDescribedBy(): string | undefined {
  const { error, described, formDescriptionId, formMessageId } = useFormField();
  return [described ? formDescriptionId : "", error ? formMessageId : ""].filter(Boolean).join(" ") || undefined;
}

function FormControl(props: React.ComponentPropsWithoutRef<typeof Slot>) {
  const { error, formItemId } = useFormField();
  return <Slot data-slot="form-control" id={formItemId} aria-describedby={useDescribedBy()} aria-invalid={error ? true : undefined} {...props} />;
}

function FormDescription({ className, ...props }: React.ComponentProps<"p">) {
  const { formDescriptionId, setDescribed } = useFormField();
  React.useLayoutEffect(() => {
    setDescribed(true);
    return () => setDescribed(false);
  }, [setDescribed]);
  return <p data-slot="form-description" id={formDescriptionId} className={cn("text-xs text-muted-foreground", className)} {...props} />;
}

function FormMessage({ className, children, ...props }: React.ComponentProps<"p">) {
  const { error, formMessageId } = useFormField();
  const body = error ? String(error.message ?? "") : children;
  if (!body) return null;
  return (
    <p data-slot="form-message" id={formMessageId} className={cn("text-xs font-medium text-red-700 dark:text-red-300", className)} {...props}>
      {body}
    </p>
  );
}

export { Form, FormControl, FormDescription, FormField, FormItem, FormLabel, FormMessage, useDescribedBy, useFormField };
