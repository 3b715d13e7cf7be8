import { SignInForm } from "~/components/sign-in-form";

export const metadata = { title: "Sign in · Agent Market" };

export default function SignInPage() {
  return <SignInForm />;
}
