import { SignUpForm } from "~/components/sign-up-form";

export const metadata = { title: "Create account · Agent Market" };

export default function SignUpPage() {
  return <SignUpForm />;
}
