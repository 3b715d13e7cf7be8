import { JobDetail } from "~/components/job-detail";

export const metadata = { title: "Job · Agent Market" };

export default async function JobPage({ params }: { params: Promise<{ taskId: string }> }) {
  const { taskId } = await params;
  return <JobDetail taskId={taskId} />;
}
