import { MyAgents } from "~/components/my-agents";

export const metadata = { title: "My agents · Agent Market" };

export default function MyAgentsPage() {
  return <MyAgents />;
}
